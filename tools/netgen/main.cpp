// phoenix-netgen -- the companion tool; everything it does lives in the phoenix_netgen library.
#include <iostream>

#include "cli.hpp"

int main(int argc, char** argv) { return phoenix::netgen::run_cli(argc, argv, std::cout, std::cerr); }
