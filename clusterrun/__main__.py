from clusterrun.cli.app import entry

entry()
