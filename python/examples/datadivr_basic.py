"""The datadivr SDK's basic client usage, on tether: the import line is the only change.

Run `tether serve` (its datadivr endpoint is ws://localhost:8765/ws, as in the SDK's docs),
then `python python/examples/datadivr_basic.py`: it prints the sum the server computes
(`Sum result from server: 420.0`) and keeps receiving until Ctrl-C.
"""

import asyncio

from tether.datadivr import HandlerType, WebSocketClient, WebSocketMessage, websocket_handler


@websocket_handler("sum_handler_result", HandlerType.CLIENT)
async def handle_sum_result(message: WebSocketMessage) -> None:
    """Prints the server's answer to a sum_event."""
    print(f"Sum result from {message.from_id}: {message.payload}")


@websocket_handler("msg", HandlerType.CLIENT)
async def msg_handler(message: WebSocketMessage) -> None:
    """Prints text messages from other clients."""
    print(f">> {message.from_id}: '{message.message}'")


async def run_client() -> None:
    client = WebSocketClient("ws://localhost:8765/ws")
    await client.connect()

    await client.send_message(payload={"numbers": [391, 29]}, event_name="sum_event")

    tasks = [asyncio.create_task(client.receive_messages())]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await client.disconnect()


asyncio.run(run_client())
