# Writes INPUT as a C++ raw string literal (in chunks, since compilers limit
# the length of one literal) to OUTPUT: `static const char *const kEmbedded[]`.
file(READ ${INPUT} _text)
string(LENGTH "${_text}" _length)
set(_out "// Generated from ${INPUT}. Do not edit.\nstatic const char *const kEmbeddedChunks[] = {\n")
set(_pos 0)
while(_pos LESS _length)
  string(SUBSTRING "${_text}" ${_pos} 8000 _chunk)
  string(APPEND _out "R\"moec_embed(${_chunk})moec_embed\",\n")
  math(EXPR _pos "${_pos} + 8000")
endwhile()
string(APPEND _out "};\n")
file(WRITE ${OUTPUT} "${_out}")
