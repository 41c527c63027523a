"""Telephony commands: the AudioSocket server, Twilio call placement, AMD checks and benchmarks."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from agent.errors import UserError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    audiosocket_app = typer.Typer(help="Asterisk AudioSocket server.", no_args_is_help=True)
    twilio_app = typer.Typer(help="Twilio Media Streams calls.", no_args_is_help=True)
    amd_app = typer.Typer(help="Answering-machine detection.", no_args_is_help=True)
    app.add_typer(audiosocket_app, name="audiosocket")
    app.add_typer(twilio_app, name="twilio")
    app.add_typer(amd_app, name="amd")

    @audiosocket_app.command("serve")
    def audiosocket_serve(
        host: str = typer.Option("0.0.0.0", help="interface to listen on"),
        port: int = typer.Option(9092, help="TCP port for AudioSocket(uuid,host:port)"),
    ) -> None:
        """Accept Asterisk AudioSocket connections; each UUID is a dialwise call id."""
        import asyncio
        import logging

        from agent.server.audiosocket import serve_calls
        from agent.store import init_db

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        init_db()

        async def main() -> None:
            from agent.calls import get_deps

            await asyncio.to_thread(get_deps)  # load models before the first call arrives
            try:
                server = await serve_calls(host, port)
            except OSError as exc:
                raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from None
            typer.echo(f"AudioSocket listening on {host}:{port}")
            async with server:
                await server.serve_forever()

        asyncio.run(main())

    @twilio_app.command("call")
    def twilio_call(
        account_id: str = typer.Argument(..., help="account to call"),
        script_id: str = typer.Argument(..., help="script to run"),
        to: str = typer.Option("", help="number to dial (default: the account's phone)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="create the call and print the TwiML; dial nothing"),
    ) -> None:
        """Place an outbound call through Twilio, through the compliance gate: `dialwise call --network twilio`."""
        from agent.dialing.cli import call

        call(account_id, script_id, network="twilio", to=to, dry_run=dry_run)

    @amd_app.command("check")
    def amd_check(wav: Path = typer.Argument(..., help="a recording of how the call was answered")) -> None:
        """Run answering-machine detection over a WAV and print the verdict as JSON."""
        from speech.amd import detect_file

        if not wav.exists():
            raise UserError(f"no such file: {wav}")
        typer.echo(json.dumps(detect_file(wav).as_dict(), ensure_ascii=False))

    @bench_app.command("amd")
    def bench_amd(
        fixtures: Path = typer.Option(None, help="folder of voicemail WAVs (default: the shipped fixtures)"),
    ) -> None:
        """AMD accuracy on voicemail fixtures vs the human hellos of sim/voices. Prints one JSON object."""
        from speech.amd import benchmark

        typer.echo(json.dumps(benchmark(fixtures), ensure_ascii=False))

    @bench_app.command("pacing")
    def bench_pacing(seconds: float = typer.Option(3.0, help="seconds of agent audio to send")) -> None:
        """Outbound pacing over a real AudioSocket TCP connection. Prints one JSON object."""
        import asyncio

        from telephony_adapter.audiosocket import pacing_benchmark

        typer.echo(json.dumps(asyncio.run(pacing_benchmark(seconds))))
