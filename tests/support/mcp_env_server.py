"""A stdio MCP server (official SDK) whose one tool reports the environment it was started with.

Run as a script (``python tests/support/mcp_env_server.py``): the hub starts it from a private
directory with an empty environment, so it cannot rely on the repository being its working dir.
"""

from __future__ import annotations

import json
import os

from mcp.server.mcpserver import MCPServer

server: MCPServer[object] = MCPServer("env-reporter", version="1.0.0")


@server.tool()
def environment() -> str:
    """The process's environment variables and working directory, as JSON."""
    return json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "pid": os.getpid()})


if __name__ == "__main__":
    server.run("stdio")
