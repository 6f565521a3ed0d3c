"""Process-level promises: exit with a live client, fork, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from conftest import Hub


def run_script(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_interpreter_exits_promptly_with_a_live_client(hub: Hub) -> None:
    started = time.monotonic()
    done = run_script(
        f"""
        import asyncio, tether
        clients = []
        async def main():
            client = tether.Client({hub["echo"]!r})
            await client.ready(timeout=5) if False else await client.start()
            await client.ready(timeout=5)
            await client.send({{"left": "open"}})
            clients.append(client)  # never closed, still referenced at exit
        asyncio.run(main())
        print("main done")
        """
    )
    assert done.returncode == 0, done.stderr
    assert "main done" in done.stdout
    assert "panic" not in done.stderr.lower()
    assert time.monotonic() - started < 15


def test_using_tether_in_a_forked_child_raises_fork_error(hub: Hub) -> None:
    done = run_script(
        f"""
        import asyncio, os, sys, tether
        from tether.errors import ForkError
        async def parent_client():
            client = tether.Client({hub["echo"]!r})
            await client.start()
            await client.ready(timeout=5)
            return client
        loop = asyncio.new_event_loop()
        client = loop.run_until_complete(parent_client())
        pid = os.fork()
        if pid == 0:
            async def child():
                try:
                    await tether.Client({hub["echo"]!r}).start()
                except ForkError as e:
                    assert "fork" in str(e)
                    return 0
                return 1
            os._exit(asyncio.run(child()))
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        loop.run_until_complete(client.close())
        """
    )
    assert done.returncode == 0, done.stderr
    assert "child exit 0" in done.stdout, done.stdout + done.stderr


def test_ctrl_c_during_asyncio_run_leaves_nothing_hanging(hub: Hub) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import asyncio, tether
                async def main():
                    async with tether.Client({hub["sink"]!r}, ack_field="id") as client:
                        print("ready", flush=True)
                        await client.request({{"id": 1}}, timeout=60)
                asyncio.run(main())
                """
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the process hung after Ctrl-C") from None
    assert "KeyboardInterrupt" in stderr
    assert "panic" not in stderr.lower()
    assert os.WIFEXITED(0)


def test_the_core_and_datadivr_import_only_the_standard_library() -> None:
    # protobuf is installed for tether.gather alone; the core and the datadivr drop-in
    # must not load it (or anything else outside the standard library).
    code = textwrap.dedent(
        """
        import sys
        before = set(sys.modules)
        import tether, tether.datadivr
        loaded = {m.split(".")[0] for m in set(sys.modules) - before}
        outside = sorted(
            m for m in loaded
            if m != "tether" and m not in sys.stdlib_module_names and not m.startswith("_")
        )
        print(",".join(outside))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == ""
