package sqslocal_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keyless-etl/s3-snowflake-loader/functions/internal/sqslocal"
)

func TestFakeClock(t *testing.T) {
	tests := []struct {
		name    string
		after   []time.Duration
		advance time.Duration
		// fired lists, in firing order, the indexes of the channels that fired.
		fired []int
	}{
		{name: "zero fires at once", after: []time.Duration{0}, fired: []int{0}},
		{name: "negative fires at once", after: []time.Duration{-time.Second}, fired: []int{0}},
		{name: "nothing fires before its deadline", after: []time.Duration{2 * time.Second}, advance: time.Second},
		{name: "a deadline reached exactly fires", after: []time.Duration{time.Second}, advance: time.Second, fired: []int{0}},
		{name: "only due waiters fire", after: []time.Duration{3 * time.Second, time.Second}, advance: 2 * time.Second, fired: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := sqslocal.NewFakeClock(epoch)
			var chans []<-chan time.Time
			for _, d := range tt.after {
				chans = append(chans, clock.After(d))
			}
			clock.Advance(tt.advance)
			assert.Equal(t, epoch.Add(tt.advance), clock.Now())

			var fired []int
			for i, ch := range chans {
				select {
				case at := <-ch:
					assert.Equal(t, clock.Now(), at)
					fired = append(fired, i)
				default:
				}
			}
			assert.Equal(t, tt.fired, fired)
		})
	}
}
