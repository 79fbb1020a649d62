/*
 * nbd_server.h: the run's NBD server: one qemu-storage-daemon exporting every data disk that
 * --disk-graph serves over nbd (export vqh<i>, writable, on a unix socket in the private run
 * directory), or with server=qemu-nbd one qemu-nbd per such disk (socket nbd.sock-vqh<i>),
 * started before the first QEMU, shared by every QEMU of the run, always reaped.
 * It runs under a supervisor process (`vqhammer nbd-serve`, nbd_serve.c) that carries out
 * --nbd-chaos and logs every outage.
 */
#ifndef VQH_NBD_SERVER_H
#define VQH_NBD_SERVER_H

#include <stdbool.h>
#include "err.h"
#include "opts.h"
#include "rundir.h"

struct nbd_server;

/* Start the server for the NBD disks among disks[0..ndisks) and wait until it listens; NULL
 * (with err) on failure. Sets the socket the graphs connect to (blockgraph_set_nbd_socket). */
struct nbd_server *nbd_server_start(const struct vqh_opts *o, struct rundir *rd, const char *const *disks,
                                    int ndisks, struct vqh_err *err);
/* Outages so far (server kills by --nbd-chaos or nbd_server_kick). */
int nbd_server_outages(struct nbd_server *ns);
/* False when the supervisor or its server ended by itself (err says how; see the log). */
bool nbd_server_alive(struct nbd_server *ns, struct vqh_err *err);
/* One outage now: true once the server is down (within timeout_ms). */
bool nbd_server_kick(struct nbd_server *ns, int timeout_ms);
/* Test hook: restart the server on zeroed images and wait until it is back. */
bool nbd_server_zero(struct nbd_server *ns, int timeout_ms, struct vqh_err *err);
/* Kill and reap the supervisor and the server. NULL is fine. */
void nbd_server_stop(struct nbd_server *ns);
/* The internal subcommand `vqhammer nbd-serve` (nbd_serve.c). */
int nbd_serve_main(int argc, char **argv);

#endif
