"""MCP stdio server for waitbus: not built yet (see README.md). Importing it does nothing."""
