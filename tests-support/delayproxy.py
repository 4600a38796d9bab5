#!/usr/bin/python3
"""A TCP proxy that delays every chunk by the number of milliseconds in DELAY_FILE (re-read each time).

usage: delayproxy.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_FILE [PORT_FILE]

LISTEN_PORT 0 picks a free port; PORT_FILE then gets `port=N` once the proxy listens (written
atomically), like the services' --port-file.
"""
import asyncio, os, sys

listen_host, listen_port, target_host, target_port, delay_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
port_file = sys.argv[6] if len(sys.argv) > 6 else None

def delay():
    try:
        return int(open(delay_file).read().strip() or 0) / 1000
    except (OSError, ValueError):
        return 0

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            await asyncio.sleep(delay())
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()

async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

async def main():
    server = await asyncio.start_server(handle, listen_host, listen_port)
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write("port=%d\n" % server.sockets[0].getsockname()[1])
        os.rename(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()

asyncio.run(main())
