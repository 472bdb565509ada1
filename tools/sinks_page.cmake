# docs/reference/sinks.md from `herald docs sinks`.
#   cmake -DHERALD=path/to/herald -DPAGE=docs/reference/sinks.md -DMODE=check|write -P tools/sinks_page.cmake
# check: fails when PAGE differs from what herald prints; write: rewrites PAGE.
execute_process(COMMAND ${HERALD} docs sinks OUTPUT_VARIABLE page RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "`${HERALD} docs sinks` failed (${rc})")
endif()
set(current "")
if(EXISTS ${PAGE})
  file(READ ${PAGE} current)
endif()
if(MODE STREQUAL "write")
  if(NOT current STREQUAL page)
    file(WRITE ${PAGE} "${page}")
  endif()
elseif(NOT current STREQUAL page)
  message(FATAL_ERROR "${PAGE} differs from the sink types' option schemas; run `cmake --build build --target docs`")
endif()
