"""Loaded by the test's Dramatiq workers beside kessai.jobs.tasks: registers the toy kind."""

from kessai.jobs.kinds import register
from tests.jobs.toy_kinds import Squares

register(Squares())
