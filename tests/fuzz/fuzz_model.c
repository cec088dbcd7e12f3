/* fuzz_model - the model file reader (model_read in lib/net/model.c), as dann-embed and
 * dann-train --resume read it, then the momentum block of a checkpoint. */
#include <stdlib.h>

#include "fuzz.h"
#include "net/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_open(data, size);
	if (!f)
		return 0;
	model m;
	int kind = -1;
	int rc = model_read(f, "fuzz.model", &m, &kind);
	fuzz_check_rc(rc);
	if (rc == 0) {
		if (kind != MODEL_KIND_MODEL && kind != MODEL_KIND_CHECKPOINT)
			__builtin_trap();
		if (kind == MODEL_KIND_CHECKPOINT) {
			float *mom = malloc(m.nparams * sizeof *mom);
			if (mom) {
				fuzz_check_rc(model_read_block(f, "fuzz.model", &m, mom));
				free(mom);
			}
		}
		model_free(&m);
	}
	fclose(f);
	return 0;
}
