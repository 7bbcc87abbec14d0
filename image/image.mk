# OpenMistOS image targets. Included from the top-level Makefile
# (`include image/image.mk`); also usable alone: make -f image/image.mk image
#
#   make image          SD-card image in build/image/ (needs the service .deb:
#                       `make deb-armhf` runs first unless OPENDCRE_DEB is given;
#                       OPENDCRE_DEB=none builds an image without the service)
#   make image-repro    rebuild and compare (IMAGE_REPRO=assemble, the default:
#                       same base layer; IMAGE_REPRO=full: two builds from nothing)
#   make bundle         the RAUC update bundle (.raucb) of the last `make image`
#   make ab-test        the A/B update scenarios under QEMU (install, fallback,
#                       wrong key, power cuts; 40-60 min; after image + bundle)
#   make boot-test      boot build/image/*.img under QEMU raspi2b, REST + SSH checks
#   make image-ci       what CI runs: image, image-repro, boot-test, under one deadline
#   make image-check    quick host-side tests of the image scripts (seconds;
#                       from the top-level Makefile after `make lint`)
#   make image-deps     install the host tools only
#
# Every variable of image/image.conf can be set on the command line, e.g.
# `make image IMAGE_SUITE=trixie`.

IMAGE_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

# Hand the recipe's variables to the scripts when set here or in an including
# Makefile (command-line values reach them anyway); empty means "default".
export IMAGE_SUITE IMAGE_ARCH IMAGE_COMPONENTS IMAGE_MIRRORS IMAGE_REQUIRE_ALL_SOURCES \
	IMAGE_VARIANT IMAGE_PACKAGES_FILE IMAGE_EXTRA_PACKAGES IMAGE_NAME IMAGE_HOSTNAME \
	IMAGE_FAT_MIB IMAGE_SLOT_MIB IMAGE_DATA_MIB IMAGE_SIZE_MIB IMAGE_ROOT_FREE_MIB \
	IMAGE_UBOOT_SUITE IMAGE_COMPATIBLE IMAGE_RAUC_KEYRING RAUC_CERT RAUC_KEY IMAGE_XZ_LEVEL IMAGE_ID_SEED \
	IMAGE_CACHE_DIR IMAGE_CACHE_KEEP IMAGE_OUT IMAGE_WORK IMAGE_KEEP_ROOTFS IMAGE_REPRO OPENDCRE_DEB \
	BOOT_TEST_IMAGE BOOT_TEST_DIR AB_TEST_DIR AB_TEST_BOOT_TIMEOUT AB_TEST_FROM AB_TEST_CUTS BOOT_TEST_API_TIMEOUT BOOT_TEST_SERVICE BOOT_TEST_TOKEN \
	EMULATOR_CONFIG OPENDCRE_BIN

# Hard limits (seconds). The image build from nothing takes 7-9 min here,
# the boot test 10-25 min (two boots of an emulated raspi2b: four TCG vCPUs
# on two host cores); CI gives the whole image stage 60 min.
IMAGE_BUILD_TIMEOUT ?= 1800
BOOT_TEST_TIMEOUT ?= 2700
AB_TEST_TIMEOUT ?= 5400
IMAGE_CI_TIMEOUT ?= 3600

# Without an explicit package, build it first with the top-level `deb` target.
ifeq ($(strip $(OPENDCRE_DEB)),)
IMAGE_DEB_PREREQ := deb-armhf
endif

.PHONY: image bundle ab-test image-repro boot-test image-ci image-check image-deps

image-deps:
	cd $(IMAGE_ROOT) && image/build/install-deps.sh

image: $(IMAGE_DEB_PREREQ)
	cd $(IMAGE_ROOT) && timeout --kill-after=30 $(IMAGE_BUILD_TIMEOUT) image/build/build-image.sh

bundle:
	cd $(IMAGE_ROOT) && timeout --kill-after=30 600 image/build/bundle.sh

image-repro: $(IMAGE_DEB_PREREQ)
	cd $(IMAGE_ROOT) && timeout --kill-after=30 $$(( 2 * $(IMAGE_BUILD_TIMEOUT) )) image/build/repro.sh

ab-test:
	cd $(IMAGE_ROOT) && timeout --kill-after=30 $(AB_TEST_TIMEOUT) image/boot-test/ab-test.sh

boot-test:
	cd $(IMAGE_ROOT) && timeout --kill-after=30 $(BOOT_TEST_TIMEOUT) image/boot-test/boot-test.sh

image-ci: $(IMAGE_DEB_PREREQ)
	cd $(IMAGE_ROOT) && timeout --kill-after=30 $(IMAGE_CI_TIMEOUT) image/build/ci.sh

# The shell lint of every script (these included) is the top-level `make lint`,
# which the including Makefile names in IMAGE_CHECK_LINT.
IMAGE_CHECK_LINT ?=
image-check: $(IMAGE_CHECK_LINT)
	cd $(IMAGE_ROOT) && image/build/test-apply-settings.sh
	cd $(IMAGE_ROOT) && image/build/test-opendcre-security.sh
	cd $(IMAGE_ROOT) && python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' image/boot-test/rest_checks.py
