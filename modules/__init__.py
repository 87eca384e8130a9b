"""The installed modules: each sub-package registers itself with a `module` object."""
