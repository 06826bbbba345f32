#include "cfdb.h"
