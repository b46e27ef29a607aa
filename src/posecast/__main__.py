"""``python -m posecast`` runs the command line."""

from posecast.cli.app import main

main()
