# Shared by the functions' Makefiles (`sam build`, BuildMethod makefile): the gateway
# package, shared/gateway without gateway/local (the dev-only simulator, local stack and
# benchmarks), copied into ARTIFACTS_DIR. Third-party code ships in DependenciesLayer.
# The including Makefile sets HERE (its own directory) first.

ROOT := $(abspath $(HERE)/../..)

define package_gateway
@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: run this through sam build" >&2; exit 1; }
@test -d "$(ROOT)/shared/gateway" || { echo "missing $(ROOT)/shared/gateway" >&2; exit 1; }
mkdir -p "$(ARTIFACTS_DIR)"
rm -rf "$(ARTIFACTS_DIR)/gateway"
cp -R "$(ROOT)/shared/gateway" "$(ARTIFACTS_DIR)/gateway"
rm -rf "$(ARTIFACTS_DIR)/gateway/local"
find "$(ARTIFACTS_DIR)/gateway" -depth \( -name __pycache__ -o -name '*.pyc' \) -exec rm -rf {} +
endef
