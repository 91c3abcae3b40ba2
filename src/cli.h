/* argv, dispatch and exit codes; nothing else. */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#define FERRY_VERSION "0.1.0"

int cli_main(int argc, char **argv);

#endif
