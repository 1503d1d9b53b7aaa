# The live tier: the same tests against a real single-node AIStore on loopback
# (scripts/live-cluster.sh builds a pinned `aisnode` with Go on first use and caches it
# outside the repository). Included from the Makefile, which defines VENV, PY and `venv`.
#
#   make live               start the cluster, run `tox -e live`, stop it; tox's exit status
#   make live-smoke         the same around scripts/live/smoke.py (SDK end-to-end check)
#   make live-cluster       start it and leave it running (prints AIS_ENDPOINT=...)
#   make live-cluster-stop  stop it and remove its state
#
# TOX_ARGS is passed to tox (e.g. TOX_ARGS="-- -k getbatch -x").

LIVE_CLUSTER ?= scripts/live-cluster.sh
TOX          ?= $(VENV)/bin/tox
TOX_ARGS     ?=

# Runs $(1) with AIS_ENDPOINT of a freshly started cluster, stopping the cluster however
# the command ends (success, failure, Ctrl-C); exits with the command's status. A cluster
# that was already running is used as it is and left running.
define with_live_cluster
	@was_up=0; $(LIVE_CLUSTER) status >/dev/null 2>&1 && was_up=1; \
	trap 'test $$was_up = 1 || $(LIVE_CLUSTER) stop' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(LIVE_CLUSTER) start >/dev/null || exit $$?; \
	AIS_ENDPOINT="$$($(LIVE_CLUSTER) env | sed -n 's/^AIS_ENDPOINT=//p')"; \
	test -n "$$AIS_ENDPOINT" || { echo "live: no AIS_ENDPOINT from $(LIVE_CLUSTER) env" >&2; exit 1; }; \
	export AIS_ENDPOINT; echo "live: AIS_ENDPOINT=$$AIS_ENDPOINT"; \
	$(1)
endef

.PHONY: live live-smoke live-cluster live-cluster-stop

live: venv ## run tox -e live against a freshly started real AIStore, then stop it
	$(call with_live_cluster,$(TOX) -e live $(TOX_ARGS))

live-smoke: venv ## the SDK end-to-end smoke check against a fresh real AIStore
	$(call with_live_cluster,$(PY) scripts/live/smoke.py)

live-cluster: ## start the live tier's AIStore and leave it running
	@$(LIVE_CLUSTER) start

live-cluster-stop: ## stop the live tier's AIStore and remove its state
	@$(LIVE_CLUSTER) stop
