/* validator.c - being written (issue #8). */
#include "gui/guid/guid.h"
