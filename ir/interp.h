/* The eager interpreter: runs an IR graph node by node with plain-C reference
 * kernels. It is azc's "without compile" baseline and the reference every
 * compiled kernel is tested against. It implements the executor interface
 * (runtime/executor.h). The graph (and the weights it points to) is borrowed
 * and must outlive the executor. */
#ifndef AZC_IR_INTERP_H
#define AZC_IR_INTERP_H

#include "ir/ir.h"
#include "runtime/executor.h"

azc_status_t azc_ir_interp_create(const azc_ir_graph_t *g, const azc_executor_params_t *params,
                                  azc_executor_t **out);

#endif
