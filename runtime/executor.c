/* Executor entry points shared by every backend (see executor.h): the batch is
 * validated once here, so backends can trust token ids, positions and
 * sequence ids. */
#include "runtime/executor.h"

#include <stddef.h>

azc_executor_params_t azc_executor_params_default(void) {
  azc_executor_params_t p = {.n_threads = 0, .n_ctx = 0, .n_seq = 1, .n_batch = 512,
                             .kv_type = AZC_KV_TYPE_AUTO};
  return p;
}

azc_status_t azc_executor_forward(azc_executor_t *ex, const azc_batch_t *b, float *logits) {
  if (b->n_tokens <= 0 || b->n_tokens > ex->n_batch)
    return AZC_ERR(AZC_INVALID_ARGUMENT, "batch of %d tokens (1..%d allowed)", b->n_tokens,
                   ex->n_batch);
  for (int32_t i = 0; i < b->n_tokens; i++) {
    if (b->tokens[i] < 0 || b->tokens[i] >= ex->n_vocab)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "token id %d out of range (vocabulary of %d)",
                     b->tokens[i], ex->n_vocab);
    if (b->pos[i] < 0 || b->pos[i] >= ex->n_ctx)
      return AZC_ERR(AZC_OUT_OF_RANGE, "position %d is outside the context of %d", b->pos[i],
                     ex->n_ctx);
    if (b->seq[i] < 0 || b->seq[i] >= ex->n_seq)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "sequence id %d out of range (%d sequences)",
                     b->seq[i], ex->n_seq);
  }
  for (int32_t i = 0; i < b->n_out; i++)
    if (b->out_rows[i] < 0 || b->out_rows[i] >= b->n_tokens)
      return AZC_ERR(AZC_INVALID_ARGUMENT, "output row %d out of range", b->out_rows[i]);
  return ex->ops->forward(ex, b, logits);
}

void azc_executor_destroy(azc_executor_t *ex) {
  if (ex) ex->ops->destroy(ex);
}
