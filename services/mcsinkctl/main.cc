// mcsinkctl: the command-line client of the controller's ConnectorService (and of MaxCompute,
// for `mcsinkctl sql`). `mcsinkctl help` lists the commands, flags and exit codes.
#include <iostream>
#include <string>
#include <vector>

#include "mcsinkctl/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return mcsink::ctl::Main(args, mcsink::ctl::ProcessEnvironment(), std::cout, std::cerr);
}
