"""The read-only web view of the ledger (``newsledger web``): queries, diff rendering, charts,
Atom feeds and the Starlette application. See :func:`tasks.webview.app.create_app`."""
