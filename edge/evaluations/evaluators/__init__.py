"""Evaluator hardware (评价器): keys with debounce and lockout, the recording worker, LEDs,
and simulated citizens for the demo. Pins are opened by ``start()``, never at import."""

from edge.evaluations.evaluators.keys import Debouncer, WindowKeys
from edge.evaluations.evaluators.service import EvaluatorService
from edge.evaluations.evaluators.simulator import CitizenSimulator

__all__ = ["CitizenSimulator", "Debouncer", "EvaluatorService", "WindowKeys"]
