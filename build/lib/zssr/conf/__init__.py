"""The Hydra configs, shipped as package data (``zssr.conf``) so an installed copy finds them."""
