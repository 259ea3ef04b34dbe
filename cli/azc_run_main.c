/* azc-run: the thin runtime's command: runs a bundle made by azc compile,
 * with every option of `azc run` that applies to bundles. It links only the
 * runtime (libazrt): no LLVM, no compiler. */
#include "cli/run_common.h"

int main(int argc, char **argv) { return run_main(argc, argv, "azc-run", NULL); }
