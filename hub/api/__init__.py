"""The HTTP and websocket layer: parse, check the caller, call a service, serialize."""
