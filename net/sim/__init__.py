"""A deterministic cluster simulator that runs the real Raft core and the real engine under
network faults, crashes and membership changes, checking safety at every step."""

from net.sim.checker import Invariant, Violation
from net.sim.simulation import SimOptions, SimResult, Simulation, run_seed

__all__ = ["Invariant", "SimOptions", "SimResult", "Simulation", "Violation", "run_seed"]
