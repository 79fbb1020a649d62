/* cmds.h: the subcommands of `vqhammer`. Each returns the exit status: 0 PASS, 1 FAIL, 2 ERROR. */
#ifndef VQH_CMDS_H
#define VQH_CMDS_H

int cmd_run(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int verify_image_main(int argc, char **argv);
int cmd_lab(int argc, char **argv);   /* tools/lab/cmd_lab.c */

#endif
