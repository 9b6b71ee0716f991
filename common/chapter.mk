# Included by every chapter's Makefile: builds that chapter's program,
# build/bin/chNN, through the top-level Makefile, and `make run` runs its demo.
ROOT := ../..
NN   := $(firstword $(subst -, ,$(notdir $(CURDIR))))

all:
	$(MAKE) -C $(ROOT) build/bin/ch$(NN)

run: all
	cd $(ROOT) && build/bin/ch$(NN)

.PHONY: all run
