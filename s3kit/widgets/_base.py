"""Shared plumbing of the panels: figures, background work, reading a simulation.

Figures are plain ``matplotlib.figure.Figure`` objects (no pyplot state, so a background thread
may draw them). :func:`show_figure` puts one into an ``Output`` widget: on the kernel's main
thread with ``display(fig)`` inside ``with out:`` (the house rule); from a background thread,
or outside a kernel, by setting the widget's ``outputs`` directly, which is what the ipywidgets
documentation recommends for background threads (an ``Output`` context manager entered from a
thread loses its output in JupyterLab once the triggering request is finished).
"""

from __future__ import annotations

import base64
import html
import io
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["new_figure", "show_figure", "BackgroundRunner", "escape"]

def escape(value: Any) -> str:
    """HTML-escape any value for an ``HTML`` widget."""
    return html.escape(str(value))


def new_figure(width: float = 9.0, height: float = 3.0, ncols: int = 1):
    """A pyplot-free figure and its axes (safe to build in a background thread)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=80)
    # fixed margins: a layout engine would double the drawing time of every refresh
    fig.subplots_adjust(left=0.08 if ncols > 1 else 0.12, right=0.98, bottom=0.17, top=0.88,
                        wspace=0.32)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _in_kernel_main_thread() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def show_figure(out, fig) -> None:
    """Replace the content of the ``Output`` widget ``out`` by ``fig``, then close ``fig``."""
    import matplotlib.pyplot as plt

    if _in_kernel_main_thread():
        from IPython import get_ipython
        from IPython.display import Image, display

        try:  # the inline backend renders figures; under MPLBACKEND=Agg it is not set up
            get_ipython().display_formatter.formatters["image/png"].lookup(fig)
            shown = fig
        except KeyError:
            shown = Image(data=_png(fig))
        with out:
            out.clear_output(wait=True)
            display(shown)
    else:
        out.outputs = ({
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(_png(fig)).decode("ascii"),
                     "text/plain": f"<Figure {fig.get_size_inches()[0]:.0f}x"
                                   f"{fig.get_size_inches()[1]:.0f} in>"},
            "metadata": {},
        },)
    plt.close(fig)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class BackgroundRunner:
    """Run jobs one after another in a daemon thread, each with its own stop flag.

    Jobs submitted while another runs are queued (pressing *step* twice = two steps);
    :meth:`stop` asks the running job to stop after its current unit of work and drops the
    queued ones. A job that raises stops the queue; the traceback goes to ``on_error``.

    Args:
        on_error: called with the formatted traceback when a job raises.
    """

    def __init__(self, on_error: Callable[[str], None] | None = None):
        self.on_error = on_error
        self.error: str | None = None
        self._lock = threading.Lock()
        self._queue: list[tuple[Callable[[threading.Event], Any], threading.Event]] = []
        self._current: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        """Whether a job is running or queued."""
        return not self._idle.is_set()

    def submit(self, job: Callable[[threading.Event], Any]) -> None:
        """Queue ``job(stop_event)``; it runs after the jobs already queued."""
        with self._lock:
            if not self.busy:
                self.error = None
            self._queue.append((job, threading.Event()))
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name="s3kit-widget")
                self._thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._current = None
                    self._idle.set()
                    return
                job, flag = self._queue.pop(0)
                self._current = flag
            try:
                job(flag)
            except Exception:  # the UI shows it; the thread must not die silently
                self.error = traceback.format_exc()
                with self._lock:
                    self._queue.clear()
                if self.on_error is not None:
                    self.on_error(self.error)

    def stop(self) -> None:
        """Stop the running job after its current unit of work; drop the queued jobs."""
        with self._lock:
            for _, flag in self._queue:
                flag.set()
            self._queue.clear()
            if self._current is not None:
                self._current.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued job has run; returns True if idle."""
        return self._idle.wait(timeout)
