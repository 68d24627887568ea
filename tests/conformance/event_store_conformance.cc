#include "estoria/testing/conformance.h"
