package command

import (
	"context"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/pgstore"
)

func openPostgres(ctx context.Context, url string) (hub.Store, error) {
	return pgstore.Open(ctx, url)
}
