# Fails when the LLVM IR file IR declares a function that is not an LLVM
# intrinsic, i.e. when azk_dot.h would make compiled kernels call a library.
file(STRINGS ${IR} declarations REGEX "^declare ")
list(FILTER declarations EXCLUDE REGEX "@llvm\\.")
if(declarations)
  string(REPLACE ";" "\n  " listed "${declarations}")
  file(REMOVE ${IR}) # so that the next build checks again
  message(FATAL_ERROR "${IR}: azk_dot.h calls library functions:\n  ${listed}")
endif()
