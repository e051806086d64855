// attncc public API: include this one header.
#pragma once

#include "attncc/error.h"
#include "attncc/interval_form.h"
#include "attncc/layout.h"
#include "attncc/mask_expr.h"
#include "attncc/mask_text.h"
#include "attncc/reference.h"
#include "attncc/spec.h"
