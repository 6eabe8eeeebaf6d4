/* empty_module.c: placeholder object for a module that has no sources yet. */
int ns_empty_module_placeholder;
