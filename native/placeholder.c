/* Temporary dispatcher until nsm-helper.c lands. */
#include <string.h>
#include "scan.h"
int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "scan"))
		return scan_main(argc - 1, argv + 1);
	return 2;
}
