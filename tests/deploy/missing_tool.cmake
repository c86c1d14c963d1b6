# A test that fails because a tool is missing, saying which package provides it.
message(FATAL_ERROR "${TOOL} not found: install the Debian package ${PACKAGE} (deploy/setup.sh "
                    "does) and configure again")
