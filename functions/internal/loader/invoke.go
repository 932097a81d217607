package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/batch"
)

// Handler is what the Lambda runtime calls: it takes the raw payload, so that an execution
// input the loader cannot read fails as Data.Invalid with a message about the input. Handed
// a func(ctx, batch.Input), the runtime would decode the payload itself and report a
// malformed one under the Go type of the decoding error (SyntaxError, UnmarshalTypeError),
// names the state machine and the README know nothing of.
var _ lambda.Handler = (*Handler)(nil)

// Invoke decodes the execution input and loads it (see Handle).
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var in batch.Input
	if err := json.Unmarshal(payload, &in); err != nil {
		err = &inputError{describeDecodeError(err)}
		h.logger().ErrorContext(ctx, "batch failed",
			slog.String("error_name", NameDataInvalid), slog.String("error", err.Error()))
		return nil, invokeError(NameDataInvalid, err)
	}
	out, err := h.Handle(ctx, in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// describeDecodeError says what is wrong with the input in the input's own terms: where, and
// what was found instead of what. The execution input is made by the validator, so such an
// input means a producer of another version, or a hand-made execution.
func describeDecodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("is not valid JSON (at byte %d: %v); the state machine passes the validator's load batch unchanged, so it was started by hand or by another program", syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("field %q holds a JSON %s where the load batch has a %s (at byte %d)", typ.Field, typ.Value, typ.Type, typ.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("is a JSON %s, not a load batch object", typ.Value)
	}
	return fmt.Errorf("is not a load batch: %w", err)
}
