"""The web shell: the resident portal and the operator console, server-rendered HTML for any phone.

The core owns the frame (layout, language switch, sign-in of staff, CSRF, security headers, rate
limits, charts, PDF records); each part brings its own pages through `Module.pages`
(core/registry.py), so a deployment has exactly the pages of its modules. Everything works with
JavaScript off: no script is served at all.
"""
