"""The template engine: HOT parsing, parameters, conditions, intrinsic
functions and the dependency graph.  Pure: no I/O, no database."""
