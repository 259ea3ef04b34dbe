/* azc-serve: `azc serve` for bundles and the model store, linking only the
 * runtime and serve/ (no compiler in memory). `azc serve` also compiles the
 * GGUF files it is given. */
#include "serve/serve.h"

int main(int argc, char **argv) { return azc_serve_main(argc, argv, "azc-serve"); }
