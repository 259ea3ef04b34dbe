/* A second test object for the ELF loader: it calls into kern.c and reads its
 * data (cross-object references), overrides kern.c's weak kern_weak_value and
 * defines the weak reference kern_optional. */
int kern_bump(int by);
extern int counter;

int kern_weak_value(void) { return 2; }
int kern_optional(void) { return 42; }
int kern2_total(int by) { return kern_bump(by) + counter; }
