# The device check's helpers (tests/gpu/check.sh): azc_gpu_check (GPU logits
# against the eager interpreter's; the stand-in's module folder) and the
# libcuda stand-in. Included by tests/CMakeLists.txt, and by the top-level
# CMakeLists.txt when the tests are not built (the configuration without
# LLVM that check.sh builds): neither needs LLVM.
add_executable(azc_gpu_check ${CMAKE_SOURCE_DIR}/tests/gpu/gpu_check.c)
target_link_libraries(azc_gpu_check PRIVATE azc_frontend azc_ir azrt)
add_library(azc_cuda_standin MODULE ${CMAKE_SOURCE_DIR}/tests/gpu/cuda_standin.c)
target_include_directories(azc_cuda_standin PRIVATE ${CMAKE_SOURCE_DIR} ${XXHASH_INCLUDE_DIR})
target_link_libraries(azc_cuda_standin PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(azc_cuda_standin PROPERTIES C_VISIBILITY_PRESET hidden)
