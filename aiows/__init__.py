"""aiows: a WebSocket client for asyncio that lives inside your aiohttp session."""

__version__ = "0.1.0"
