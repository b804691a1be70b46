#ifndef FLOWOOD_CCMARKGFM_SHIM_H
#define FLOWOOD_CCMARKGFM_SHIM_H
#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>

/* The table node types are exported by libcmark-gfm-extensions but declared in no
   installed header; declare them here and reach them through inline accessors so
   Swift 6 never sees a mutable C global. */
extern cmark_node_type CMARK_NODE_TABLE;
extern cmark_node_type CMARK_NODE_TABLE_ROW;
extern cmark_node_type CMARK_NODE_TABLE_CELL;

static inline cmark_node_type flowood_node_table(void) { return CMARK_NODE_TABLE; }
static inline cmark_node_type flowood_node_table_row(void) { return CMARK_NODE_TABLE_ROW; }
static inline cmark_node_type flowood_node_table_cell(void) { return CMARK_NODE_TABLE_CELL; }
#endif
