"""``manage.py liveness_client_assets_token [--base64-only]``: the access token of the web capture
package's private npm feed (Face API v1.3-preview.1's ``GET /settings/getClientAssetsAccessToken``).

Prints the token, its base64 form and its expiry, then the ``.npmrc`` lines that install
``@azure/ai-vision-face-ui`` with it (docs/capture.md, "Real Azure"). ``--base64-only`` prints the
base64 token alone, for a script. The token is a secret: it is printed here, on standard output,
and nowhere else (never logged). An API version without the endpoint is a CommandError.
"""

from django.core.management.base import BaseCommand, CommandError

from django_liveness.exceptions import LivenessError
from django_liveness.services import face_resource

from .liveness_settings import failure

FEED = "pkgs.dev.azure.com/msface/SDK/_packaging/AzureAIVision/npm"
PACKAGE = "@azure/ai-vision-face-ui"


def npmrc(base64_token):
    """The .npmrc that lets npm install the package from the feed (Azure-Samples/azure-ai-vision-sdk's layout)."""
    lines = [f"registry=https://{FEED}/registry/", "always-auth=true", "; begin auth token"]
    for path in (f"//{FEED}/registry/", f"//{FEED}/"):
        lines += [f"{path}:username=msface", f"{path}:_password={base64_token}", f"{path}:email=you@example.com"]
    return "\n".join([*lines, "; end auth token"])


class Command(BaseCommand):
    help = (
        "Print the access token of the Face web capture package's private npm feed and how to use it "
        "(Face API v1.3-preview.1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--base64-only", action="store_true", help="print only the base64 token (for a script)")

    def handle(self, *args, base64_only, **options):
        try:
            token = face_resource.get_client_assets_token()
        except (LivenessError, NotImplementedError) as error:
            raise CommandError(failure(error)) from None
        write = self.stdout.write
        if base64_only:
            write(token.base64_access_token)
            return
        expiry = token.expires_at.isoformat() if token.expires_at else "not given"
        write("Client assets access token (a secret: keep it out of the repository and of logs)")
        write(f"  expires:        {expiry}")
        write(f"  access token:   {token.access_token}")
        write(f"  base64 token:   {token.base64_access_token}")
        write("")
        write(f"To install {PACKAGE} from the private feed, put this .npmrc next to your package.json")
        write("(or in ~/.npmrc, never committed; an email of your own in place of you@example.com):")
        write("")
        write(npmrc(token.base64_access_token))
        write("")
        write(f"then run: npm install {PACKAGE}")
        write("Run this command again for a new token once it has expired (CI: --base64-only into a secret).")
