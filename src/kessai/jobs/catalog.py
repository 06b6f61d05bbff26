"""Imports every module that registers job kinds, so every process knows all of them."""
