"""Every service's tables, imported so that one metadata knows them all."""

from stratus.compute import models as compute_models  # noqa: F401
from stratus.database import models as database_models  # noqa: F401
from stratus.identity import models as identity_models  # noqa: F401
from stratus.image import models as image_models  # noqa: F401
from stratus.loadbalancer import models as loadbalancer_models  # noqa: F401
from stratus.network import models as network_models  # noqa: F401
from stratus.orchestration import models as orchestration_models  # noqa: F401
from stratus.volume import models as volume_models  # noqa: F401
