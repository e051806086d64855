// attncc command-line interface: dispatches to one file per subcommand.
#include <cstdio>

int main() {
  std::puts("attncc: under construction");
  return 0;
}
